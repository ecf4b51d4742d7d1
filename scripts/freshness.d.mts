export const ROOT: string;
export const SOURCE_DIRS: string[];
export const VIEWER_SOURCES: string[];
export function newestMtime(path: string, accept?: (path: string) => boolean): number;
export function isFresh(output: string, sources: string[], accept?: (path: string) => boolean): boolean;
export function compiledIsFresh(): boolean;
