/**
 * The manifest directory as the daemon knows it: per file its stamp (inode,
 * size, change and modification times, in ns) and the objects it defines;
 * per object its file, document and key (a digest: apply.ts objectKey). A
 * change of the directory reads again only the files whose stamp moved and
 * says which objects were put (new or changed) and which went, so that a
 * directory of 200k objects in which one file changed costs that file; the
 * objects themselves are not kept (NB holds their documents; a stale one is
 * read again from its file).
 */
import { shared } from '../intern.js';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { objectKey } from '../nat/apply.js';
import { loadManifests, ManifestError } from '../nat/manifest.js';
import type { Manifest, ManifestObject } from '../nat/objects.js';
import { idOf } from '../nat/rows.js';

const MANIFEST_FILE = /\.(?:ya?ml|json)$/;

export interface DirObject {
  kind: string;
  name: string;
  file: string;
  document: number;
  key: string;
  /** an OvnEip of type lrp (its status is its router port's) */
  type?: string;
  /** its readiness, kept on it by readiness.ts ("" ready, else why not; undefined: not looked at yet) */
  reason?: string;
}

export interface DirChange {
  put: ManifestObject[];
  remove: string[];
  /** takes the change as the directory's state (after it was applied) */
  commit(): void;
}

type Stamps = Map<string, string>;

/** What says a file changed: its inode, size, and modification and change times (ns). */
const stampOf = (st: { ino: bigint; size: bigint; mtimeNs: bigint; ctimeNs: bigint }): string => `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;

/** A path's inode (undefined when it is not there). */
export async function inodeOf(p: string): Promise<bigint | undefined> {
  try {
    return (await stat(p, { bigint: true })).ino;
  } catch {
    return undefined;
  }
}

export class ManifestDirectory {
  private stamps: Stamps = new Map();
  /**
   * file -> ids it defines (an exact-size array: a Set of a file's 200k ids
   * costs 6 MB, the array 1.6 MB); an id that moved to another file stays
   * listed until this one is read again (objects.get(id).file says where it is)
   */
  private byFile = new Map<string, readonly string[]>();
  /** id -> where and what */
  readonly objects = new Map<string, DirObject>();

  /** the directory's inode when last read (another directory put in its place is read whole) */
  private ino: bigint | undefined;

  constructor(public dir: string) {}

  /** Whether the path now names another directory than the one last read (moved away, made anew). */
  async replaced(): Promise<boolean> {
    return this.ino !== undefined && (await inodeOf(this.dir)) !== this.ino;
  }


  /** The directory's files with their stamps (throws when it cannot be listed); `names`: only those. */
  private async scan(names?: ReadonlySet<string>): Promise<Stamps> {
    const out: Stamps = new Map();
    const list = names ? [...names] : await readdir(this.dir);
    for (const n of list.filter((x) => MANIFEST_FILE.test(x)).sort()) {
      const f = join(this.dir, n);
      let st;
      try {
        st = await stat(f, { bigint: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // gone since the listing: not there
        throw e;
      }
      if (st.isFile()) out.set(f, stampOf(st));
    }
    return out;
  }

  /**
   * Reads every file (the start, a reload, after a refusal): the whole
   * manifest, and a commit that takes it as the state. Throws what
   * loadManifests throws; a directory without files or objects is an error.
   */
  async readAll(): Promise<{ manifest: Manifest; commit(): void }> {
    const ino = await inodeOf(this.dir);
    const stamps = await this.scan();
    const manifest = await loadManifests([this.dir]);
    if (manifest.objects.length === 0) throw new Error(`${this.dir}: no objects in the directory`);
    return {
      manifest,
      commit: () => {
        this.ino = ino;
        this.stamps = stamps;
        this.byFile = new Map();
        // (what each object's readiness was stays with it: a reload of the same objects says nothing new)
        const before = new Map(this.objects);
        this.objects.clear();
        for (const o of manifest.objects) this.take(o, before.get(idOf(o))?.reason);
        const lists = new Map<string, string[]>();
        for (const [id, o] of this.objects) {
          const l = lists.get(o.file);
          if (l) l.push(id);
          else lists.set(o.file, [id]);
        }
        for (const [f, l] of lists) this.byFile.set(f, l.slice());
      },
    };
  }

  /**
   * What changed since the state taken: the files whose stamp moved are read
   * again; an object defined twice, or a directory left without objects, is
   * refused (a ManifestError / Error: nothing taken).
   */
  async changes(names?: ReadonlySet<string>): Promise<DirChange> {
    // (only the files named, when the watcher named them: O(change), not O(files))
    const ino = await inodeOf(this.dir);
    const seen = await this.scan(names);
    const changed = [...seen].filter(([f, s]) => this.stamps.get(f) !== s).map(([f]) => f);
    const looked = names ? [...names].filter((x) => MANIFEST_FILE.test(x)).map((n) => join(this.dir, n)) : [...this.stamps.keys()];
    const gone = looked.filter((f) => this.stamps.has(f) && !seen.has(f));
    const stamps = new Map(this.stamps);
    for (const f of gone) stamps.delete(f);
    for (const [f, st] of seen) stamps.set(f, st);
    const read = new Map<string, ManifestObject[]>();
    const problems: string[] = [];
    for (const f of changed) {
      try {
        read.set(f, (await loadManifests([f])).objects);
      } catch (e) {
        if (e instanceof ManifestError) problems.push(...e.problems);
        else if ((e as NodeJS.ErrnoException).code === 'ENOENT' || /ENOENT/.test((e as Error).message)) {
          // gone since its stat: as if it were not there
          if (this.stamps.has(f)) gone.push(f);
          stamps.delete(f);
        }
        else throw e;
      }
    }
    if (problems.length) throw new ManifestError(problems);
    // ids per file, as they will be
    const leaving = new Set<string>();
    for (const f of [...gone, ...changed]) for (const id of this.byFile.get(f) ?? []) if (this.objects.get(id)?.file === f) leaving.add(id);
    const put: ManifestObject[] = [];
    const arriving = new Map<string, string>();
    for (const [f, objs] of read) {
      for (const o of objs) {
        const id = idOf(o);
        const there = this.objects.get(id);
        const elsewhere = arriving.get(id) ?? (there && !leaving.has(id) ? there.file : undefined);
        if (elsewhere !== undefined && elsewhere !== f) problems.push(`${o.kind} ${o.name}: defined in ${elsewhere} and in ${f}`);
        arriving.set(id, f);
        if (!there || there.key !== objectKey(o)) put.push(o);
      }
    }
    if (problems.length) throw new ManifestError(problems);
    const remove = [...leaving].filter((id) => !arriving.has(id));
    if (this.objects.size - remove.length + [...arriving.keys()].filter((id) => !this.objects.has(id)).length === 0) throw new Error(`${this.dir}: no objects in the directory`);
    return {
      put,
      remove,
      commit: () => {
        for (const f of gone) this.byFile.delete(f);
        for (const id of remove) this.objects.delete(id);
        // a file read again: its ids are those it has now
        for (const [f, objs] of read) {
          this.byFile.set(f, [...new Set(objs.map(idOf))].slice());
          for (const o of objs) this.take(o);
        }
        this.stamps = stamps;
        this.ino = ino;
      },
    };
  }

  /** The objects of these ids as their files define them now (those not found: left out). */
  async read(ids: readonly string[]): Promise<ManifestObject[]> {
    const files = new Set<string>();
    for (const id of ids) {
      const f = this.objects.get(id)?.file;
      if (f) files.add(f);
    }
    const want = new Set(ids);
    const out: ManifestObject[] = [];
    for (const f of files) {
      try {
        for (const o of (await loadManifests([f])).objects) if (want.has(idOf(o))) out.push(o);
      } catch {
        // a file being rewritten: its objects wait for the directory's own change
      }
    }
    return out;
  }

  /** An object put through the socket, in its own file (after the file is in place). */
  async placed(o: ManifestObject, file: string): Promise<void> {
    this.take({ ...o, origin: { file, document: 1 } } as ManifestObject);
    this.byFile.set(file, [idOf(o)]);
    await this.restamp(file);
  }

  /** An object deleted through the socket, with its own file. */
  dropped(id: string, file: string): void {
    this.objects.delete(id);
    this.byFile.delete(file);
    this.stamps.delete(file);
  }

  private async restamp(file: string): Promise<void> {
    try {
      const st = await stat(file, { bigint: true });
      this.stamps.set(file, stampOf(st));
    } catch {
      this.stamps.delete(file);
    }
  }

  private take(o: ManifestObject, reason?: string): void {
    const file = o.origin?.file ?? this.dir;
    const id = idOf(o);
    const prev = this.objects.get(id);
    // (one shape for every object; its readiness stays with it when its file is read again)
    this.objects.set(id, { kind: shared(o.kind), name: shared(o.name), file: shared(file), document: o.origin?.document ?? 1, key: objectKey(o), type: o.kind === 'OvnEip' && o.type ? shared(o.type) : undefined, reason: prev?.reason ?? reason });
  }
}
