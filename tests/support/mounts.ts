import { execFileSync } from "node:child_process";

/**
 * Small file systems for the storage-failure tests: a real full disk (tmpfs with a size limit) and
 * a real read-only directory (a read-only bind mount, which stops root too, unlike chmod). Both need
 * root with CAP_SYS_ADMIN; where mounting is refused they return the reason, for the test to skip.
 */
export type Mounted = { unmount: () => void; reason?: undefined } | { reason: string };

/** Mounts a tmpfs of `bytes` on `dir` (an existing, empty directory). */
export function mountTmpfs(dir: string, bytes: number): Mounted {
  return mount(["-t", "tmpfs", "-o", `size=${bytes},mode=0755`, "tmpfs", dir], dir);
}

/** Makes `dir` read-only for every process, root included, by bind-mounting it onto itself read-only. */
export function bindReadOnly(dir: string): Mounted {
  const bound = mount(["--bind", dir, dir], dir);
  if (bound.reason !== undefined) return bound;
  // A bind mount takes the read-only flag only on a remount (one mount call cannot do both on older kernels).
  const remounted = mount(["-o", "remount,bind,ro", dir], dir);
  if (remounted.reason !== undefined) {
    bound.unmount();
    return remounted;
  }
  return bound;
}

function mount(args: string[], dir: string): Mounted {
  if (process.getuid?.() !== 0) return { reason: "mounting a file system needs root; tests run as a user" };
  try {
    execFileSync("mount", args, { stdio: ["ignore", "ignore", "pipe"] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    return { reason: `mount ${args.join(" ")} was refused here (${stderr || String(error)})` };
  }
  return {
    unmount: () => {
      // Lazy if still busy (a server that failed to exit): the mount goes once its last file closes.
      try {
        execFileSync("umount", [dir], { stdio: "ignore" });
      } catch {
        execFileSync("umount", ["-l", dir], { stdio: "ignore" });
      }
    },
  };
}
