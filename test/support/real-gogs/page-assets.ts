/** The same-origin stylesheets, scripts and images a page of the real Gogs loads, as Gogs rendered it (avatars left out). */
export function pageAssets(html: string): string[] {
  const found = new Set<string>();
  for (const m of html.matchAll(/<(?:link[^>]+href|script[^>]+src|img[^>]+src)="(\/[^"/][^"]*)"/g)) {
    const url = m[1].replaceAll('&amp;', '&');
    if (!url.startsWith('/avatars/')) found.add(url);
  }
  return [...found];
}
