import { access, mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';

/**
 * A CPU quota for the processes a benchmark run starts: a cgroup whose CFS quota lets its
 * processes use `vcpus` CPU-seconds per second in all, spread over however many cores they see.
 * That is how Lambda gives a function CPU: in proportion to its memory, one vCPU-second per second
 * at 1,769 MB, while the function sees 2 cores up to 3,008 MB (docs/deploy.md, the dump function's
 * CPU). The database's backends stay outside it, as an RDS server's CPUs are not the function's.
 */
export interface CpuLimit {
  /** The command that runs `file args` inside the cgroup (its children follow). */
  wrap(file: string, args: readonly string[]): [string, string[]];
  remove(): Promise<void>;
}

const PERIOD_US = 100_000;

/**
 * Makes the cgroup (cgroup v2, or v1's cpu controller). Needs root (or a delegated cgroup); says
 * what it tried when it cannot.
 */
export async function createCpuLimit(
  vcpus: number,
  name = `lifeboat-bench-${process.pid}`,
): Promise<CpuLimit> {
  if (!(vcpus > 0)) throw new Error(`a CPU limit is a number of vCPUs above 0, not ${vcpus}`);
  const quota = Math.round(vcpus * PERIOD_US);
  let dir: string;
  if (await exists('/sys/fs/cgroup/cgroup.controllers')) {
    // cgroup v2: the cpu controller must be enabled for the root's children.
    const controllers = await readFile('/sys/fs/cgroup/cgroup.subtree_control', 'utf8').catch(() => '');
    if (!controllers.split(/\s+/).includes('cpu')) {
      await writeFile('/sys/fs/cgroup/cgroup.subtree_control', '+cpu').catch((err: unknown) => {
        throw new Error(`cannot enable the cpu controller of cgroup v2: ${(err as Error).message}`);
      });
    }
    dir = `/sys/fs/cgroup/${name}`;
    await mkdir(dir).catch(cannot(dir));
    await writeFile(`${dir}/cpu.max`, `${quota} ${PERIOD_US}`).catch(cannot(`${dir}/cpu.max`));
  } else if (await exists('/sys/fs/cgroup/cpu/cpu.cfs_quota_us')) {
    dir = `/sys/fs/cgroup/cpu/${name}`;
    await mkdir(dir).catch(cannot(dir));
    await writeFile(`${dir}/cpu.cfs_period_us`, String(PERIOD_US)).catch(cannot(`${dir}/cpu.cfs_period_us`));
    await writeFile(`${dir}/cpu.cfs_quota_us`, String(quota)).catch(cannot(`${dir}/cpu.cfs_quota_us`));
  } else {
    throw new Error('no cgroup cpu controller here (neither cgroup v2 nor v1 cpu): --cpu-limit needs one');
  }
  const procs = `${dir}/cgroup.procs`;
  return {
    // The shell joins the cgroup, then becomes the command (exec keeps its pid).
    wrap: (file, args) => ['/bin/sh', ['-c', 'echo $$ > "$0" && exec "$@"', procs, file, ...args]],
    async remove() {
      // A cgroup is removed once its processes have exited; the runs wait for theirs.
      await rmdir(dir).catch(() => undefined);
    },
  };
}

function cannot(what: string): (err: unknown) => never {
  return (err) => {
    throw new Error(`cannot set up a CPU limit (${what}): ${(err as Error).message}; --cpu-limit needs root`);
  };
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}
