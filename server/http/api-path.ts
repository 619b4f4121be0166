/**
 * Whether a path (or request URL) is one of Keygate's JSON endpoints, under /-/api/. Express routes
 * paths whatever their case (`/-/API/Login/verify` reaches the sign-in's verify), so everything that
 * tells an API request from a page (the error format, the body limit's answer, its audit, the
 * return path) must read the prefix the same way, or a spelling would change the answer or skip the
 * audit row.
 */
export function isApiPath(path: string): boolean {
  return path.length >= 7 && path.slice(0, 7).toLowerCase() === '/-/api/';
}
