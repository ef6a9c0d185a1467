import { hashTagOf } from './hash-slot.js'
import { keys, SHARD_TAGS, VISITOR_SHARDS } from './keys.js'
import {
  limiterKey, outcomesOf, recordViewsCall, summaryKey,
  type CalledGroup, type CallGroup, type Decision, type GroupCounts, type ViewBatch, type WriteSettings
} from './record-views.js'

/**
 * A batch in a cluster, where one script call may touch the keys of one hash slot only. It is
 * written in three stages, each a call per hash tag, each given what the stages before decided:
 * `limits`, each address shard's per-address limits (which views are over); `visitors`, each
 * visitor shard's summaries and log part (which views are a visitor's first of the day, and who
 * returns); `counts`, the seed's two counters of each page and day and each page's other keys.
 * Every call has its own progress key (per writer, stage and tag), so a resent batch applies
 * each call once, and a call applied before answers again what it decided then.
 */
export type Stage = 'limits' | 'visitors' | 'counts'

export const STAGES: Stage[] = ['limits', 'visitors', 'counts']

/** One call of a stage, and where its views sit in the batch: per group of the call, the batch's group and the batch's index of each of its views. */
export interface PartCall {
  keys: string[]
  args: string[]
  places: Array<{ group: number, views: number[] }>
}

/** What is decided about each view of the batch so far, by group; undefined: nothing yet. */
export type Decisions = Array<Array<Decision | undefined>>

export function noDecisions (batch: ViewBatch): Decisions {
  return batch.groups.map((group) => group.views.map(() => undefined))
}

/**
 * The calls of `stage` for `batch`. `settings.logCap` is the cap of each log part. Views whose
 * stage has nothing to do (no limit, not a person, or limited) are in no call of it.
 */
export function stageCalls (stage: Stage, batch: ViewBatch, decisions: Decisions, settings: WriteSettings): PartCall[] {
  const byTag = new Map<string, Array<{ group: number, views: number[] }>>()
  const add = (tag: string, group: number, views: number[]): void => {
    const places = byTag.get(tag) ?? []
    byTag.set(tag, places)
    places.push({ group, views })
  }
  batch.groups.forEach((group, g) => {
    if (stage === 'counts') {
      const tags = new Set([keys.viewsAllTime(group.page), keys.viewsOnDay(group.page, group.day), keys.uniquesOnDay(group.page, group.day)].map(hashTagOf))
      for (const tag of tags) add(tag, g, group.views.map((_, v) => v))
      return
    }
    const viewsByTag = new Map<string, number[]>()
    group.views.forEach((view, v) => {
      const key = stage === 'limits' ? limiterKey(view, settings.viewLimitPerIp) : decisionOf(decisions, g, v)?.code === 'l' ? '' : summaryKey(view)
      if (key === '') return
      const tag = hashTagOf(key)
      const views = viewsByTag.get(tag) ?? []
      viewsByTag.set(tag, views)
      views.push(v)
    })
    for (const [tag, views] of viewsByTag) add(tag, g, views)
  })
  const role = stage === 'limits' ? 'limit' : stage === 'visitors' ? 'summary' : 'group'
  return [...byTag].map(([tag, places]) => {
    const groups: CallGroup[] = places.map(({ group, views }) => {
      const { page, day, views: all } = batch.groups[group] as ViewBatch['groups'][number]
      return { page, day, views: views.map((v) => ({ ...all[v] as CallGroup['views'][number], decision: decisionOf(decisions, group, v) })) }
    })
    const call = recordViewsCall({ seq: batch.seq, groups }, {
      progress: keys.writerProgress(batch.writerId, { tag, stage }),
      log: stage === 'visitors' ? keys.visitLog(SHARD_TAGS.indexOf(tag), VISITOR_SHARDS) : undefined,
      // A writer's batches reach a tag's progress key only when they hold a key of it.
      strict: false,
      writes: (keyRole, key) => keyRole === role && hashTagOf(key) === tag
    }, settings)
    return { ...call, places }
  })
}

function decisionOf (decisions: Decisions, group: number, view: number): Decision | undefined {
  return (decisions[group] as Array<Decision | undefined>)[view]
}

/**
 * `decisions` with what a stage's calls answered. A call applied long before answers no
 * decisions (see the script); its views keep theirs, and a batch with an undecided view answers
 * no outcomes.
 */
export function decided (decisions: Decisions, calls: PartCall[], replies: CalledGroup[][]): Decisions {
  const next = decisions.map((group) => [...group])
  calls.forEach((call, c) => {
    call.places.forEach(({ group, views }, index) => {
      const answered = ((replies[c] as CalledGroup[])[index] as CalledGroup).decisions
      if (answered !== null) views.forEach((v, position) => { (next[group] as Array<Decision | undefined>)[v] = answered[position] })
    })
  })
  return next
}

/** Each group's numbers once counted: its day counter's call has the views, its page's call the uniques. */
export function countsOf (decisions: Decisions, calls: PartCall[], replies: CalledGroup[][]): GroupCounts[] {
  const counts = decisions.map((group): GroupCounts => ({ views: -1, uniques: -1, outcomes: group.includes(undefined) ? null : outcomesOf(group as Decision[]) }))
  calls.forEach((call, c) => {
    call.places.forEach(({ group }, index) => {
      const answered = (replies[c] as CalledGroup[])[index] as CalledGroup
      const numbers = counts[group] as GroupCounts
      numbers.views = Math.max(numbers.views, answered.views)
      numbers.uniques = Math.max(numbers.uniques, answered.uniques)
    })
  })
  return counts
}
