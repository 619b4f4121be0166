/** The part of negotiator (a dependency of Express's `accepts`) Keygate uses: it ships no types. */
declare module 'negotiator' {
  import type { IncomingHttpHeaders } from 'node:http';

  export default class Negotiator {
    constructor(request: { headers: IncomingHttpHeaders });
    /** The client's languages, most preferred first, those with q=0 left out; `['*']` without a header. */
    languages(available?: string[]): string[];
  }
}
