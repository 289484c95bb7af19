/**
 * systemd's service notification (sd_notify(3)) for Type=notify units:
 * READY=1 once the replicas are complete and the first reconcile is done,
 * STATUS= lines, WATCHDOG=1 at half of WATCHDOG_USEC while the daemon is
 * healthy (its event loop turns and its OVSDB sessions are connected),
 * STOPPING=1 on the way out.
 *
 * Node has no unix datagram sockets, so each message goes through
 * systemd-notify(1) with --no-block; the unit therefore sets
 * NotifyAccess=all. Without NOTIFY_SOCKET (not under systemd) nothing is
 * sent.
 */
import { execFile } from 'node:child_process';
import type { Logger } from 'pino';

export class Notifier {
  private timer: NodeJS.Timeout | undefined;
  private readonly socket: string | undefined;

  constructor(
    private readonly logger: Logger,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.socket = env.NOTIFY_SOCKET || undefined;
    const usec = Number(env.WATCHDOG_USEC ?? '');
    const pid = env.WATCHDOG_PID ? Number(env.WATCHDOG_PID) : undefined;
    this.watchdogMs = Number.isFinite(usec) && usec > 0 && (pid === undefined || pid === process.pid) ? usec / 1000 : undefined;
  }

  /** The watchdog interval systemd asks for (ms), if any. */
  readonly watchdogMs: number | undefined;

  send(...lines: string[]): void {
    if (!this.socket) return;
    execFile('systemd-notify', ['--no-block', ...lines], { env: { ...process.env, NOTIFY_SOCKET: this.socket }, timeout: 5000 }, (err) => {
      if (err) this.logger.warn({ err: err.message, lines }, 'systemd-notify failed');
    });
  }

  /** WATCHDOG=1 at half the interval, each time `healthy()` says so. */
  startWatchdog(healthy: () => boolean): void {
    if (!this.socket || this.watchdogMs === undefined) return;
    let last = Date.now();
    const every = this.watchdogMs / 2;
    this.timer = setInterval(() => {
      // the event loop turned on time (a stall shows as a late tick) and the sessions are up
      const late = Date.now() - last > every * 1.5;
      last = Date.now();
      if (!late && healthy()) this.send('WATCHDOG=1');
      else this.logger.warn({ late }, 'watchdog: not healthy, no WATCHDOG=1 sent');
    }, every);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
