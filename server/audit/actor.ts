/** Who did something, and from where: the same shape for the web UI and the CLI. */
import type { RequestContext } from './record.js';

export interface Actor {
  /** 'user:<name>', 'cli' or 'system'. */
  name: string;
  userId?: string | null;
  ctx?: RequestContext;
}

export const CLI_ACTOR: Actor = { name: 'cli' };
export const SYSTEM_ACTOR: Actor = { name: 'system' };

export function userActor(user: { id: string; username: string }, ctx?: RequestContext): Actor {
  return { name: `user:${user.username}`, userId: user.id, ctx };
}
