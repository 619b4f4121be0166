/**
 * The running Keygate servers, as each records itself in the database: the public URL it serves,
 * refreshed every minute and removed when it stops. The CLI compares its own PUBLIC_URL with
 * theirs: an invite printed with another URL than the server's would lead nowhere.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Db } from '../db/pool.js';

/** How often a server refreshes its row; rows older than three of these are servers that are gone. */
export const HEARTBEAT_MS = 60_000;
const GONE = `${(3 * HEARTBEAT_MS) / 1000} seconds`;

export interface RunningServer {
  publicUrl: string;
  host: string;
  pid: number;
  startedAt: Date;
}

/** Records this server; stop() removes the row (and the heartbeat), on a graceful shutdown. */
export async function registerServer(db: Db, publicUrl: string): Promise<{ stop(): Promise<void> }> {
  const id = randomUUID();
  await db.query(`DELETE FROM keygate_servers WHERE seen_at < now() - $1::interval`, [GONE]);
  await db.query(`INSERT INTO keygate_servers (id, public_url, host, pid) VALUES ($1, $2, $3, $4)`, [id, publicUrl, os.hostname(), process.pid]);
  // A missed beat (the database briefly away) is harmless: the next one puts the row back.
  const beat = () =>
    db
      .query(
        `INSERT INTO keygate_servers (id, public_url, host, pid) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET seen_at = now()`,
        [id, publicUrl, os.hostname(), process.pid],
      )
      .catch(() => {});
  const timer = setInterval(() => void beat(), HEARTBEAT_MS);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await db.query('DELETE FROM keygate_servers WHERE id = $1', [id]).catch(() => {});
    },
  };
}

/** The servers seen in the last three heartbeats, oldest first. */
export async function runningServers(db: Db): Promise<RunningServer[]> {
  const { rows } = await db.query<{ public_url: string; host: string; pid: number; started_at: Date }>(
    `SELECT public_url, host, pid, started_at FROM keygate_servers WHERE seen_at >= now() - $1::interval ORDER BY started_at`,
    [GONE],
  );
  return rows.map((r) => ({ publicUrl: r.public_url, host: r.host, pid: r.pid, startedAt: r.started_at }));
}
