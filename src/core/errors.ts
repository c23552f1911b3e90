/**
 * A failure the user can act on. `message` is the single line the step ends with:
 * what failed, why, and what to do. It must never contain a secret.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

/** A parameter that failed validation: the message always names the parameter. */
export class InputError extends UserError {
  constructor(
    readonly parameter: string,
    readonly reason: string,
  ) {
    super(`parameter ${parameter}: ${reason}`, 2);
    this.name = 'InputError';
  }
}
