/** Where the CLI reads its settings and writes its output: the process's, or a test's. */
export interface CliIo {
  env: NodeJS.ProcessEnv;
  /** A .env file to read settings from when CONFIG_FILE is unset (the program passes the working directory's). */
  dotenvFile?: string;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}
