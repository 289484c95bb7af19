/**
 * What a long command is doing, on one line of a terminal (stderr), as
 * kubectl and apt show it; nothing when stderr is not a terminal, so that
 * piped output and logs stay clean.
 */
export class Progress {
  private readonly on: boolean;
  private shown = false;
  private readonly started = Date.now();

  constructor(private readonly stream: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr) {
    this.on = stream.isTTY === true && process.env.TERM !== 'dumb';
  }

  /** The step now running ("reading NB", "planning 24012 objects"). */
  step(text: string): void {
    if (!this.on) return;
    const secs = ((Date.now() - this.started) / 1000).toFixed(1);
    this.stream.write(`\r\x1b[K${text}... (${secs}s)`);
    this.shown = true;
  }

  /** Clears the line, before the command's own output. */
  done(): void {
    if (!this.on || !this.shown) return;
    this.stream.write('\r\x1b[K');
    this.shown = false;
  }
}
