/**
 * The bench's access to the local broker and MariaDB: topics of its own (created, filled,
 * deleted), databases of its own (created, migrated, truncated, dropped), topic-map files for
 * apimon's programs, and the classpath of Kafka's own performance tools.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { NodeContext } from "@effect/platform-node"
import { Effect, Layer, Redacted } from "effect"
import { Kafka, logLevel } from "kafkajs"
import * as mysql from "mysql2/promise"
import * as Mysql from "../../src/adapters/mysql/index.ts"
import { ROOT, runToEnd, spawnCommand } from "./Proc.ts"

export const brokers = () => (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",")
/** The server, without a database (each part uses databases of its own). */
export const mysqlServer = () =>
  process.env.BENCH_MYSQL_URL ?? process.env.TEST_MYSQL_URL ?? "mysql://root@127.0.0.1:3306"

export const databaseUrl = (database: string) => {
  const url = new URL(mysqlServer())
  url.pathname = `/${database}`
  return url.href
}

/** Where the bench writes its topic maps and scratch files. */
export const WORK_DIR = path.join(os.tmpdir(), "apimon-bench")

export const kafka = () =>
  new Kafka({ brokers: brokers(), clientId: "apimon-bench", logLevel: logLevel.NOTHING })

/** Sum of the partitions' end offsets, and whether every partition still starts at 0. */
export const topicSize = async (
  topic: string,
): Promise<{ records: number; partitions: number } | undefined> => {
  const admin = kafka().admin()
  await admin.connect()
  try {
    const topics = await admin.listTopics()
    if (!topics.includes(topic)) return undefined
    const offsets = await admin.fetchTopicOffsets(topic)
    if (offsets.some((o) => o.low !== "0")) return { records: -1, partitions: offsets.length }
    return { records: offsets.reduce((n, o) => n + Number(o.high), 0), partitions: offsets.length }
  } finally {
    await admin.disconnect()
  }
}

export const deleteTopics = async (topics: ReadonlyArray<string>) => {
  const admin = kafka().admin()
  await admin.connect()
  try {
    const existing = new Set(await admin.listTopics())
    const gone = topics.filter((t) => existing.has(t))
    if (gone.length > 0) await admin.deleteTopics({ topics: gone, timeout: 30_000 })
    // deletion finishes on the broker after the answer: wait until the names are free again,
    // or a program creating one of them at once fails ("does not host this topic-partition")
    for (let i = 0; i < 60 && gone.length > 0; i++) {
      const left = new Set(await admin.listTopics())
      if (gone.every((t) => !left.has(t))) break
      await new Promise((r) => setTimeout(r, 250))
    }
    if (gone.length > 0) await new Promise((r) => setTimeout(r, 500))
  } finally {
    await admin.disconnect()
  }
}

export const createTopic = async (topic: string, partitions: number) => {
  const admin = kafka().admin()
  await admin.connect()
  try {
    // deletion is asynchronous on the broker: creating the same name again may race it
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.createTopics({
          topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }],
          waitForLeaders: true,
          timeout: 30_000,
        })
        return
      } catch (e) {
        if (attempt >= 20) throw e
        await new Promise((r) => setTimeout(r, 500))
      }
    }
  } finally {
    await admin.disconnect()
  }
}

/** Deletes the group's committed offsets (a bench group is used once). */
export const deleteGroups = async (groups: ReadonlyArray<string>) => {
  if (groups.length === 0) return
  const admin = kafka().admin()
  await admin.connect()
  try {
    await admin.deleteGroups([...groups]).catch(() => undefined)
  } finally {
    await admin.disconnect()
  }
}

/** A topic map that routes every level to one topic (no plugins): the bench's topics. */
export const topicMapFile = (topic: string, partitions = 4): string => {
  mkdirSync(WORK_DIR, { recursive: true })
  const file = path.join(WORK_DIR, `topics-${topic}.json`)
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        partitions,
        levels: { DEBUG: topic, INFO: topic, WARN: topic, ERROR: topic },
        plugins: [],
        deadLetterTopic: `${topic}-dead-letters`,
      },
      null,
      2,
    )}\n`,
  )
  return file
}

// ---------------------------------------------------------------------------------------------
// MySQL

/** Drops, creates and migrates `database` with the project's migrations. */
export const freshDatabase = (database: string) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const url = Redacted.make(databaseUrl(database))
      yield* Mysql.dropDatabase(url)
      yield* Mysql.createDatabase(url)
      yield* Mysql.migrate(path.join(ROOT, "migrations")).pipe(
        Effect.provide(Layer.merge(Mysql.clientLayer(url, { maxConnections: 1 }), NodeContext.layer)),
      )
    }),
  )

export const dropDatabase = (database: string) =>
  Effect.runPromise(Mysql.dropDatabase(Redacted.make(databaseUrl(database))))

export const connect = (database?: string) =>
  mysql.createConnection({ uri: database === undefined ? mysqlServer() : databaseUrl(database) })

/** Empties the projection tables (faster than migrating again). */
export const truncate = async (database: string) => {
  const c = await connect(database)
  try {
    for (const t of Mysql.PROJECTION_TABLES) await c.query(`TRUNCATE TABLE ${t}`)
  } finally {
    await c.end()
  }
}

export const mariadbVersion = async (): Promise<string> => {
  const c = await connect()
  try {
    const [rows] = await c.query("SELECT VERSION() AS v")
    return String((rows as Array<{ v: string }>)[0]?.v ?? "?")
  } finally {
    await c.end()
  }
}

// ---------------------------------------------------------------------------------------------
// Kafka's own tools

const KAFKA_HOME = process.env.KAFKA_HOME_DIR ?? path.join(ROOT, ".kafka")

export const kafkaVersion = (): string => {
  try {
    const jar = readdirSync(path.join(KAFKA_HOME, "lib")).find((f) => /^kafka-clients-.*\.jar$/.test(f))
    return jar?.replace(/^kafka-clients-|\.jar$/g, "") ?? "?"
  } catch {
    return "?"
  }
}

const hasTools = () => {
  try {
    return readdirSync(path.join(KAFKA_HOME, "tools-lib")).some((f) => /^kafka-tools-\d.*\.jar$/.test(f))
  } catch {
    return false
  }
}

/** The classpath of ProducerPerformance and ConsumerPerformance, fetching the jars once. */
export const toolsClasspath = async (): Promise<string> => {
  if (!hasTools()) {
    console.log("  fetching Kafka's tools jars (once): bash tools/kafka/kafka.sh fetch --tools")
    await runToEnd(
      spawnCommand("kafka.sh fetch --tools", "bash", ["tools/kafka/kafka.sh", "fetch", "--tools"]),
      600_000,
    )
  }
  if (!existsSync(path.join(KAFKA_HOME, "lib"))) throw new Error(`no Kafka jars in ${KAFKA_HOME}/lib`)
  return `${path.join(KAFKA_HOME, "lib")}/*:${path.join(KAFKA_HOME, "tools-lib")}/*`
}
