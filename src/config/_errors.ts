/** One problem found in a config file, with where it is. */
export interface ConfigIssue {
  /** Dotted key path, e.g. `jobs.backup.timeout`; empty for the whole file. */
  path: string;
  line?: number;
  column?: number;
  message: string;
}

/** A config that cannot be loaded: the message names file, line, column, key and the fix. */
export class ConfigError extends SyntaxError {
  readonly file: string;
  readonly issues: readonly ConfigIssue[];
  /** Line of the first issue (1-based), when known. */
  readonly line: number | undefined;
  /** Column of the first issue (1-based), when known. */
  readonly column: number | undefined;

  /** Builds one message from every issue, one issue a line. */
  constructor(file: string, issues: readonly ConfigIssue[], options?: ErrorOptions) {
    super(issues.map((issue) => formatIssue(file, issue)).join("\n"), options);
    this.name = "ConfigError";
    this.file = file;
    this.issues = issues;
    this.line = issues[0]?.line;
    this.column = issues[0]?.column;
  }
}

function formatIssue(file: string, issue: ConfigIssue): string {
  const where = issue.line !== undefined
    ? `line ${issue.line}${issue.column !== undefined ? `, column ${issue.column}` : ""}: `
    : "";
  const key = issue.path ? `${issue.path}: ` : "";
  return `Cannot load config "${file}": ${where}${key}${issue.message}`;
}
