/** Where things are in the repository, absolute. */
import * as path from "node:path"
import { fileURLToPath } from "node:url"

export const ROOT = fileURLToPath(new URL("..", import.meta.url))
export const MIGRATIONS_DIR = path.join(ROOT, "migrations")
export const DASHBOARDS_DIR = path.join(ROOT, "grafana", "dashboards")
export const COMPOSE_FILE = path.join(ROOT, "compose.yaml")
export const KAFKA_SCRIPT = path.join(ROOT, "tools", "kafka", "kafka.sh")

/** A path inside the repository. */
export const inRepo = (...parts: ReadonlyArray<string>) => path.join(ROOT, ...parts)
