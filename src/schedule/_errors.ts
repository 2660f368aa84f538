/** Options for {@linkcode ScheduleSyntaxError}. */
export interface ScheduleSyntaxErrorOptions {
  /** The cron field at fault, such as `"minute"`. */
  field?: string;
}

/**
 * A schedule that does not parse. The message names the schedule, the field and the reason:
 * `Invalid schedule "0 61 * * * *": minute field: value 61 is out of range 0-59`.
 */
export class ScheduleSyntaxError extends SyntaxError {
  override readonly name = "ScheduleSyntaxError";
  /** The cron field at fault (`"second"`, `"minute"`, … `"day-of-week"`), if one is. */
  readonly field?: string;
  /** The schedule text as given. */
  readonly expression: string;
  /** The reason alone, without the schedule and the field. */
  readonly reason: string;

  constructor(expression: string, reason: string, options: ScheduleSyntaxErrorOptions = {}) {
    const where = options.field === undefined ? "" : `${options.field} field: `;
    super(`Invalid schedule ${JSON.stringify(expression)}: ${where}${reason}`);
    this.expression = expression;
    this.reason = reason;
    if (options.field !== undefined) this.field = options.field;
  }
}
