import { describe, expect, it } from 'vitest';
import { clip, MethodError, RequestError } from '../../src/jmap/errors.js';

describe('error wire shapes (RFC 8620 §3.6)', () => {
  it('a method error is {type, extra..., description?}', () => {
    expect(new MethodError('unknownMethod').toJSON()).toEqual({ type: 'unknownMethod' });
    expect(JSON.stringify(new MethodError('invalidArguments', 'bad ids', { arguments: ['ids'] })))
      .toBe('{"type":"invalidArguments","arguments":["ids"],"description":"bad ids"}');
  });

  it('extra members cannot replace the type', () => {
    expect(JSON.stringify(new MethodError('forbidden', undefined, { type: 'serverFail' }))).toBe('{"type":"forbidden"}');
  });

  it('a request error is a problem document with the JMAP error URN', () => {
    expect(new RequestError('notJSON', 400, 'Body is not JSON').toJSON())
      .toEqual({ type: 'urn:ietf:params:jmap:error:notJSON', status: 400, detail: 'Body is not JSON' });
  });

  it('clip shortens long client text', () => {
    expect(clip('short')).toBe('short');
    expect(clip('x'.repeat(150))).toBe(`${'x'.repeat(100)}…`);
  });
});
