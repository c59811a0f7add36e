import { test, expect, hydrated } from "./fixtures";

test("the API page lists every operation from the OpenAPI document, filters them, and links each body to its schema", async ({
  page,
  request,
}) => {
  const document = await (await request.get("/api/openapi.json")).json();
  const methods = ["get", "post", "put", "patch", "delete"];
  const operations = Object.values(document.paths as Record<string, Record<string, unknown>>).flatMap((item) =>
    methods.filter((method) => item[method]),
  ).length;

  await page.goto("/");
  await hydrated(page);
  await page.locator("footer").getByRole("link", { name: "API" }).click();
  await expect(page).toHaveURL(/\/api-docs$/);
  await expect(page.getByRole("heading", { level: 1, name: "API" })).toBeVisible();
  await expect(page.locator("details.api-operation")).toHaveCount(operations);
  await expect(page.getByRole("link", { name: "this JSON Schema" })).toHaveAttribute("href", "/api/schema/realtime.json");

  // The filter narrows the list to the operations on one path.
  await page.getByLabel("Filter operations").fill("/api/threads/{id}/messages");
  await expect(page.locator("details.api-operation:visible")).toHaveCount(2);
  await expect(page.getByRole("heading", { level: 2, name: "threads" })).toBeVisible();
  await expect(page.getByRole("heading", { level: 2, name: "agents" })).toBeHidden();
  const post = page.locator('details[data-operation="POST /api/threads/{id}/messages"]');
  await post.locator("summary").click();
  await expect(post).toContainText("Request body");
  await expect(post).toContainText("202");

  // Its body's schema opens at its fields.
  await post.getByRole("link", { name: "NewMessage" }).click();
  await expect(page).toHaveURL(/#schema-NewMessage$/);
  const schema = page.locator("#schema-NewMessage");
  await expect(schema).toBeInViewport();
  await expect(schema).toContainText("content");
  await expect(schema).toContainText("required");
});
