import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * Who runs an experiment. A process that runs (or resumes) an experiment holds its lease: a store row
 * naming the owner — pid, host and the process's start time (so a recycled pid is not mistaken for the
 * owner) — renewed every LEASE_RENEW_MS while it lives and expiring LEASE_TTL_MS after the last renewal.
 *
 * The owner is dead when, on this host, its pid no longer exists or now belongs to a process started at
 * another time; on another host (a shared data directory), when the lease has expired. A live owner's
 * experiment is not resumed (CONFLICT); a dead owner's may be taken over.
 */
export const LEASE_RENEW_MS = 2_000;
export const LEASE_TTL_MS = 10_000;

export interface LeaseOwner {
  /** `<pid>@<host>#<process start>`. */
  id: string;
  pid: number;
  host: string;
  processStart: string;
}

export interface LeaseRecord extends LeaseOwner {
  experimentId: string;
  acquiredAt: string;
  renewedMs: number;
  expiresMs: number;
}

/**
 * Start time of a process as the kernel reports it (Linux: field 22 of /proc/<pid>/stat, clock ticks
 * since boot), or undefined when it cannot be read (no such process, or no /proc).
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces or parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const start = fields[19];
    return start === undefined || start === '' ? undefined : `ticks:${start}`;
  } catch {
    return undefined;
  }
}

let self: LeaseOwner | undefined;

/** This process as a lease owner. */
export function currentOwner(): LeaseOwner {
  if (self === undefined) {
    const pid = process.pid;
    const host = hostname();
    // Without /proc, the wall-clock start (bookkeeping only) identifies this process.
    const processStart = processStartTime(pid) ?? `ms:${Math.round(Date.now() - process.uptime() * 1000)}`;
    self = { id: `${pid}@${host}#${processStart}`, pid, host, processStart };
  }
  return self;
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the lease's owner is still running (see the module comment). */
export function leaseIsLive(lease: LeaseRecord, nowMs: number = Date.now()): boolean {
  const me = currentOwner();
  if (lease.id === me.id) return true;
  if (lease.host !== me.host) return nowMs < lease.expiresMs;
  if (!pidExists(lease.pid)) return false;
  const start = processStartTime(lease.pid);
  // A start time we cannot read (no /proc) cannot prove a recycled pid: fall back to the expiry.
  if (start === undefined || !lease.processStart.startsWith('ticks:')) return nowMs < lease.expiresMs;
  return start === lease.processStart;
}

/** "pid 123 on host h" for messages. */
export function describeOwner(owner: Pick<LeaseOwner, 'pid' | 'host'>): string {
  return `pid ${owner.pid} on host ${owner.host}`;
}
