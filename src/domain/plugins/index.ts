/**
 * The plugin registry. Adding a kind of plugin: one file in this folder and one line here.
 */
import { Endpoint } from "./Endpoint.ts"
import type { TopicPlugin } from "./Plugin.ts"
import { SlowRequests } from "./SlowRequests.ts"
import { Status } from "./Status.ts"

export type { EventPredicate, TopicPlugin } from "./Plugin.ts"

export const builtinPlugins: ReadonlyArray<TopicPlugin> = [SlowRequests, Endpoint, Status]
