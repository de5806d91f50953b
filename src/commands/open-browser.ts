import { spawn } from "node:child_process";

/**
 * Opens a URL in the user's browser, as `--open` asks: `$BROWSER` if set (the convention Python's
 * webbrowser and git follow; the tests use it), else the platform's opener (`open` on macOS,
 * `start` on Windows, `xdg-open` elsewhere). Detached and not waited for; a failure is reported,
 * never fatal, since the printed URL works by hand. Resolves with the problem, or undefined.
 */
export function openBrowser(url: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const [command, args] = env.BROWSER
    ? [env.BROWSER, [url]]
    : process.platform === "darwin"
      ? ["open", [url]]
      : process.platform === "win32"
        ? ["cmd", ["/c", "start", '""', url.replace(/&/g, "^&")]]
        : ["xdg-open", [url]];
  return new Promise((resolve) => {
    const child = spawn(command, args, { detached: true, stdio: "ignore" });
    child.once("error", (error) => resolve(`${command}: ${error.message}`));
    child.once("spawn", () => {
      child.unref();
      resolve(undefined);
    });
  });
}
