export declare const DIST: string;
export declare const STAMP: string;
export declare const BUILD_INPUTS: readonly string[];
export declare function buildIsFresh(): boolean;
export declare function launch(entry: string): Promise<void>;
