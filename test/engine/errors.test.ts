import { describe, expect, it } from 'vitest';
import { reportError } from '../../cli/program.js';
import { ERROR_CODES, ERROR_OUTCOMES, errorOutcome, isErrorCode, TwinlabError } from '../../engine/errors.js';
import { errorBody } from '../../server/errors.js';

describe('error vocabulary', () => {
  it('isErrorCode accepts the codes only, not inherited object properties', () => {
    expect(isErrorCode('NOT_FOUND')).toBe(true);
    expect(isErrorCode('PAYLOAD_TOO_LARGE')).toBe(true);
    for (const inherited of ['toString', 'constructor', 'hasOwnProperty', '__proto__', 'valueOf']) expect(isErrorCode(inherited)).toBe(false);
    expect(isErrorCode(3)).toBe(false);
  });

  it('one table gives every code its HTTP status and exit code, used by the server and the CLI alike', () => {
    expect(Object.keys(ERROR_OUTCOMES).sort()).toEqual(Object.keys(ERROR_CODES).sort());
    const write = process.stderr.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      for (const code of Object.values(ERROR_CODES)) {
        const error = new TwinlabError(code, 'x');
        expect(errorBody(error).status, code).toBe(ERROR_OUTCOMES[code].http);
        expect(reportError(error), code).toBe(ERROR_OUTCOMES[code].exit);
      }
    } finally {
      process.stderr.write = write;
    }
    expect(errorOutcome('NOT_FOUND')).toEqual({ http: 404, exit: 2 });
    expect(errorOutcome('INVALID_SPEC')).toEqual({ http: 400, exit: 2 });
    expect(errorOutcome('toString')).toEqual(ERROR_OUTCOMES.INTERNAL);
  });

  it('an oversized request body maps to PAYLOAD_TOO_LARGE / 413 through the same table', () => {
    const { status, body } = errorBody({ type: 'entity.too.large' });
    expect(status).toBe(413);
    expect(body.error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(errorBody(new Error('boom'))).toEqual({ status: 500, body: { error: { code: 'INTERNAL', message: 'boom' } } });
  });
});
