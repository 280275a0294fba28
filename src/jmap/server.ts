import type { AccountDirectory, MethodDefinition } from './context.js';
import { makeContext } from './context.js';
import type { JmapRequest } from './envelope.js';
import { MethodError, RequestError, clip } from './errors.js';
import { resolveReferences } from './references.js';
import { requirePermission } from './standard/permission.js';
import { CORE_CAPABILITY, type Caller, type CoreLimits, type Invocation, type JsonObject } from './types.js';

export interface JmapResponse {
  methodResponses: Invocation[];
  sessionState: string;
  createdIds?: Record<string, string>;
}

/** An object type whose state push channels (§7) report: its name, the permission to read it, its state. */
export interface PushableType {
  name: string;
  permission: string;
  state(accountId: string): Promise<string>;
}

/** Reports an unexpected failure inside a method; must not log request contents (they may hold secrets). */
export type FailureReporter = (method: string, error: unknown) => void;

/**
 * The method registry and request processor. Object types plug in by registering methods
 * under their capability; this class only knows RFC 8620 mechanics.
 */
export class JmapServer {
  private readonly methods = new Map<string, MethodDefinition>();
  private readonly capabilities = new Map<string, JsonObject>();
  private readonly inFlight = new Map<string, number>();
  private readonly pushable = new Map<string, PushableType>();

  constructor(
    readonly limits: CoreLimits,
    private readonly directory: AccountDirectory,
    private readonly reportFailure: FailureReporter = () => {},
    /** Whether an error means the host's storage is unavailable for now (answered serverUnavailable). */
    private readonly unavailable: (error: unknown) => boolean = () => false,
  ) {
    this.capabilities.set(CORE_CAPABILITY, { ...limits });
    // Core/echo needs its own permission too (Stalwart's jmapCoreEcho): every method checks one.
    this.register('Core/echo', {
      capability: CORE_CAPABILITY,
      handler: (args, ctx) => {
        requirePermission(ctx, 'jmapCoreEcho');
        return args;
      },
    });
  }

  addCapability(uri: string, value: JsonObject = {}): void {
    this.capabilities.set(uri, value);
  }

  register(name: string, def: MethodDefinition): void {
    if (this.methods.has(name)) throw new Error(`method ${name} registered twice`);
    this.methods.set(name, def);
  }

  /** Makes a type's state available to push channels (registerStandardMethods does it for standard types). */
  addPushableType(type: PushableType): void {
    this.pushable.set(type.name, type);
  }

  /** The types a push channel can report, by name. */
  pushableTypes(): ReadonlyMap<string, PushableType> {
    return this.pushable;
  }

  capabilityList(): Record<string, JsonObject> {
    return Object.fromEntries(this.capabilities);
  }

  /** Runs a validated request for `caller`. Request-level limits throw RequestError before any call runs. */
  async process(request: JmapRequest, caller: Caller, sessionState: string): Promise<JmapResponse> {
    for (const uri of request.using) {
      if (!this.capabilities.has(uri)) {
        throw new RequestError('unknownCapability', 400, `The Request object used capability '${clip(uri)}', which is not supported by this server.`);
      }
    }
    if (request.methodCalls.length > this.limits.maxCallsInRequest) {
      throw new RequestError('limit', 400, `At most ${this.limits.maxCallsInRequest} method calls per request`, { limit: 'maxCallsInRequest' });
    }
    const running = this.inFlight.get(caller.accountId) ?? 0;
    if (running >= this.limits.maxConcurrentRequests) {
      throw new RequestError('limit', 400, `At most ${this.limits.maxConcurrentRequests} concurrent requests`, { limit: 'maxConcurrentRequests' });
    }
    this.inFlight.set(caller.accountId, running + 1);
    try {
      return await this.run(request, caller, sessionState);
    } finally {
      const left = (this.inFlight.get(caller.accountId) ?? 1) - 1;
      if (left === 0) this.inFlight.delete(caller.accountId);
      else this.inFlight.set(caller.accountId, left);
    }
  }

  private async run(request: JmapRequest, caller: Caller, sessionState: string): Promise<JmapResponse> {
    const createdIds = new Map<string, string>(request.createdIds ? Object.entries(request.createdIds) : []);
    const ctx = makeContext(caller, this.limits, this.directory, createdIds);
    const using = new Set(request.using);
    const responses: Invocation[] = [];
    for (const [name, rawArgs, callId] of request.methodCalls) {
      const def = this.methods.get(name);
      if (!def || !using.has(def.capability)) {
        responses.push(['error', new MethodError('unknownMethod', clip(name)).toJSON(), callId]);
        continue;
      }
      try {
        const args = resolveReferences(rawArgs, responses, this.limits.maxObjectsInGet);
        const result = await def.handler(args, ctx);
        responses.push([name, result, callId]);
      } catch (err) {
        responses.push(['error', this.toMethodError(name, err).toJSON(), callId]);
      }
    }
    const response: JmapResponse = { methodResponses: responses, sessionState };
    if (request.createdIds) response.createdIds = Object.fromEntries(createdIds);
    return response;
  }

  private toMethodError(name: string, err: unknown): MethodError {
    if (err instanceof MethodError) return err;
    // Reported either way (logged, counted); the host's store refusing (read-only, full, busy past its timeout,
    // down) rolled the transaction back: try later.
    this.reportFailure(name, err);
    if (this.unavailable(err)) return new MethodError('serverUnavailable', 'The store cannot take changes right now; nothing was changed. Try again later.');
    return new MethodError('serverFail', 'An unexpected error occurred; nothing was changed');
  }
}
