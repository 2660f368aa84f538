/** Job kinds. */
export { commandJob, type CommandJobOptions } from "./command.ts";
