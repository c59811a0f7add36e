import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { test as base, expect, type Page } from "@playwright/test";
import { serverBinary, siteRoot } from "../build";

// Every test fails if the page logs a console error or throws. Each entry reads
// "<message> @ <url>"; a test that expects an error removes it from the list.
export const test = base.extend<{ consoleErrors: string[] }>({
  consoleErrors: [
    async ({ page }, use) => {
      const errors: string[] = [];
      page.on("console", (message) => {
        if (message.type() === "error") errors.push(`${message.text()} @ ${message.location().url}`);
      });
      page.on("pageerror", (error) => errors.push(error.message));
      await use(errors);
      expect(errors, "console errors").toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };

// Waits until the WASM bundle has hydrated the page: clicks before that are lost.
export async function hydrated(page: Page) {
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
}

// Starts a server of a test's own (the build under test) on `port` with `dataDir`, and `env` on
// top of the defaults; the test kills it.
export function startServer(port: number, dataDir: string, env: Record<string, string> = {}): ChildProcess {
  return spawn(serverBinary, [], {
    env: {
      ...process.env,
      HATCHERY_ADDR: `127.0.0.1:${port}`,
      HATCHERY_DATA_DIR: dataDir,
      HATCHERY_LOG: "warn",
      LEPTOS_SITE_ROOT: siteRoot,
      ...env,
    },
    stdio: "ignore",
  });
}

// Waits until the server on `port` answers /readyz.
export async function waitUntilReady(port: number) {
  await expect(async () => {
    const response = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(response.status).toBe(200);
  }).toPass({ timeout: 15_000 });
}

// What a fake provider's `answer` gets for one request: the conversation sent, and ways to
// stream the reply.
export interface Reply {
  messages: { role: string; content: string | null }[];
  // Sends one chunk of the stream.
  send(data: unknown): void;
  // Sends a chunk carrying `text`.
  token(text: string): void;
  sleep(ms: number): Promise<void>;
  // Whether the client went away.
  closed(): boolean;
}

// A fake OpenAI-compatible provider: real HTTP and SSE on 127.0.0.1. `answer` streams each
// reply's chunks; usage and `[DONE]` follow.
export function fakeProvider(answer: (reply: Reply) => Promise<void>): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", async () => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      let closed = false;
      res.on("close", () => (closed = true));
      const send = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`);
      await answer({
        messages: JSON.parse(body).messages,
        send,
        token: (text) => send({ choices: [{ index: 0, delta: { content: text } }] }),
        sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
        closed: () => closed,
      });
      send({ choices: [], usage: { prompt_tokens: 10, completion_tokens: 5 } });
      res.end("data: [DONE]\n\n");
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve({ url: `http://127.0.0.1:${port}/v1`, server });
    }),
  );
}
