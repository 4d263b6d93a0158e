import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import {
  DEFAULT_MAX_DELIVERIES_IN_FLIGHT,
  type NoticeKind,
  type NoticeCode,
  type NoticeDetail,
  type NoticeAudience,
  type NoticePage,
  type NoticeReceipt,
  type NoticeSeverity,
} from '../../common/notice';
import type { NoticeChannelType } from '../../common/policy';
import type { NoticeDelivery, NoticeRouting, RunbookActivities } from '../../activities';
import { notification } from '../activity-options';
import { recordNoticeUndelivered } from './metrics';
import { isPatched, PATCHES, type PatchId } from './patches';
import type { RunRecord } from './run-record';

const { notifyLog, notifySlack, notifyPagerDuty, notifyEmail, notifyWebhook } =
  proxyActivities<RunbookActivities>(notification);

const SENDERS: Record<NoticeChannelType, (delivery: NoticeDelivery) => Promise<NoticeReceipt>> = {
  log: notifyLog,
  slack: notifySlack,
  pagerduty: notifyPagerDuty,
  email: notifyEmail,
  webhook: notifyWebhook,
};

export interface NoticeDraft {
  kind: NoticeKind;
  severity: NoticeSeverity;
  audience: NoticeAudience;
  subject: string;
  body: string;
  details?: NoticeDetail[];
  code?: NoticeCode[];
  recipients?: string[];
  page?: NoticePage;
}

export interface ChannelDelivery {
  channel: string;
  state: 'sending' | 'delivered' | 'failed';
  /** Sent because another channel of the route failed. */
  fallback: boolean;
  duplicate?: boolean;
  error?: string;
}

/** The record of one notice in the status and the result. */
export interface NoticeRecord {
  kind: string;
  subject: string;
  deliveryKey: string;
  requestedAt: string;
  state: 'sending' | 'delivered' | 'partial' | 'failed';
  deliveries: ChannelDelivery[];
}

/** A page this run triggered and has not resolved since (PagerDuty keeps its incident open). */
export interface OpenPage {
  dedupKey: string;
  kind: NoticeKind;
  audience: NoticeAudience;
  recipients?: string[];
  subject: string;
}

/** Notices kept in a run's status and result, the latest; the rest are counted (see STEPS_KEPT). */
export const NOTICES_KEPT = 1_000;

/**
 * Sends notices without ever blocking the runbook. Each notice goes to the channels its kind is
 * routed to (policy), each delivery its own bounded activity; a failed delivery is recorded and
 * the notice is also sent to the policy's fallback channel. Deadlines and gates never wait for a
 * notice; `settle()` is awaited once before the run returns so every outcome is in the result.
 */
export class Notices {
  private readonly pending: Promise<unknown>[] = [];
  private readonly queued: (() => void)[] = [];
  private routing?: NoticeRouting;
  private sequence = 0;
  /** By dedup key, in the order triggered: what a cancellation must answer or name. */
  private readonly openPages = new Map<string, OpenPage>();
  /** While a notice's route is being sent (its channels are not all asked yet). */
  private dispatching = false;
  /** Deliveries started and not finished: what counts against Temporal's pending-activity limit. */
  private inFlight = 0;
  /** Deliveries waiting for one in flight to finish, oldest first. */
  private readonly waitingTurn: (() => void)[] = [];
  /** Whether this run bounds its deliveries in flight (asked once, when one first would go over). */
  private bounded?: boolean;

  constructor(private readonly record: RunRecord<unknown>) {}

  /** Whether the policy's routing is known (notices sent before then wait for it). */
  get routed(): boolean {
    return this.routing !== undefined;
  }

  /** Routing arrives with the policy; notices sent before that wait for it. */
  configure(routing: NoticeRouting): void {
    this.routing = routing;
    for (const dispatch of this.queued.splice(0)) dispatch();
  }

  send(draft: NoticeDraft): void {
    const { workflowId, runId } = workflowInfo();
    this.sequence += 1;
    const deliveryKey = `${workflowId}/${runId}/notice-${this.sequence}-${draft.kind}`;
    const entry: NoticeRecord = {
      kind: draft.kind,
      subject: draft.subject,
      deliveryKey,
      requestedAt: new Date(Date.now()).toISOString(),
      state: 'sending',
      deliveries: [],
    };
    const { notices } = this.record.status;
    notices.push(entry);
    if (notices.length > NOTICES_KEPT) {
      // The oldest one no longer sending goes first, so a delivery in progress stays visible.
      const oldest = notices.findIndex((notice) => notice.state !== 'sending');
      notices.splice(Math.max(oldest, 0), 1);
      this.record.status.noticesOmitted = (this.record.status.noticesOmitted ?? 0) + 1;
    }
    if (draft.page) this.trackPage(draft, draft.page);
    const notice = {
      deliveryKey,
      runbook: this.record.status.runbook,
      incidentId: this.record.status.incidentId,
      workflowId,
      ...draft,
    };
    const dispatch = (): void => {
      const routing = this.routing!;
      const route = routing.routes[draft.kind] ?? routing.routes.default ?? [];
      // A page reaches the paging channels whatever the route says.
      const pagers =
        draft.page && routing.paging?.length && isPatched(PATCHES.pagesReachPagers)
          ? routing.paging.filter((channel) => !route.includes(channel))
          : [];
      // A channel that fails at once (not a notice channel) must not count the notice as
      // undelivered before the route's other channels are even asked: counted after the loop.
      this.dispatching = true;
      for (const channel of [...route, ...pagers]) this.deliver(entry, notice, channel, false);
      this.dispatching = false;
      if (route.length + pagers.length === 0) entry.state = 'failed';
      if (entry.state === 'failed') this.countUndelivered(notice);
    };
    if (this.routing) dispatch();
    else this.queued.push(dispatch);
  }

  /** The pages this run triggered and has not resolved, oldest first. */
  get pagesOpen(): OpenPage[] {
    return [...this.openPages.values()];
  }

  /** A page a run before a continue-as-new triggered and left open (the carry says so). */
  carryOpenPage(page: OpenPage): void {
    this.openPages.set(page.dedupKey, page);
  }

  /**
   * Resolves every open page `select` picks, as its trigger's audience and recipients (kind: the
   * trigger's unless `kindOf` says otherwise); returns the pages resolved (none: nothing is sent).
   */
  resolvePages(
    select: (page: OpenPage) => boolean,
    text: (page: OpenPage) => { subject: string; body: string },
    kindOf: (page: OpenPage) => NoticeKind = (page) => page.kind,
  ): OpenPage[] {
    const picked = this.pagesOpen.filter(select);
    for (const page of picked)
      this.send({
        kind: kindOf(page),
        severity: 'info',
        audience: page.audience,
        ...(page.recipients ? { recipients: page.recipients } : {}),
        page: { action: 'resolve', dedupKey: page.dedupKey },
        ...text(page),
      });
    return picked;
  }

  /**
   * Resolves the open pages whose dedup key is `<workflowId>/<name>` for one of `names` (or below
   * one: `…/<name>/…`), once what they asked is done. Behind `patch`, asked only when such a page
   * is open (so a run without one records no marker): an answered page left triggered keeps a
   * PagerDuty incident open that nobody will close.
   */
  resolveAnswered(names: string[], patch: PatchId, why: string, tag: string): void {
    const keys = names.map((name) => `${this.record.status.workflowId}/${name}`);
    const answered = (page: OpenPage) =>
      keys.some((key) => page.dedupKey === key || page.dedupKey.startsWith(`${key}/`));
    if (!this.pagesOpen.some(answered) || !isPatched(patch)) return;
    this.resolvePages(answered, (page) => ({
      subject: `${tag} ${why}: resolves "${page.subject}"`,
      body: why,
    }));
  }

  private trackPage(draft: NoticeDraft, page: NoticePage): void {
    if (page.action === 'resolve') this.openPages.delete(page.dedupKey);
    else if (page.action === 'trigger' && !this.openPages.has(page.dedupKey))
      this.openPages.set(page.dedupKey, {
        dedupKey: page.dedupKey,
        kind: draft.kind,
        audience: draft.audience,
        ...(draft.recipients ? { recipients: draft.recipients } : {}),
        subject: draft.subject,
      });
  }

  /** Keeps a side task (e.g. a tracker comment) in the set awaited by `settle()`. */
  track(promise: Promise<unknown>): void {
    this.pending.push(promise);
  }

  /** Waits for every delivery, including fallbacks started by failures along the way. */
  async settle(): Promise<void> {
    while (this.pending.length > 0) {
      await Promise.allSettled(this.pending.splice(0));
    }
  }

  private deliver(
    entry: NoticeRecord,
    notice: NoticeDelivery['notice'],
    channel: string,
    fallback: boolean,
  ): void {
    const delivery: ChannelDelivery = { channel, state: 'sending', fallback };
    entry.deliveries.push(delivery);
    const type = this.routing?.channelTypes[channel];
    const send = type ? SENDERS[type] : undefined;
    if (!send) {
      this.failed(entry, notice, delivery, `channel "${channel}" is not a notice channel in the policy`);
      return;
    }
    // No extra promise in the chain: a run that never waits its turn resumes in the same order as
    // before the bound existed (its history replays command for command).
    const start = (): Promise<void> => {
      this.inFlight += 1;
      return send({ channel, notice }).then(
        (receipt) => {
          this.finishedTurn();
          delivery.state = 'delivered';
          delivery.duplicate = receipt.duplicate;
          this.summarise(entry);
        },
        (error: unknown) => {
          this.finishedTurn();
          this.failed(entry, notice, delivery, describeFailure(error));
        },
      );
    };
    if (this.mustWaitTurn()) {
      // Tracked now, so settle() waits for it; it starts when a delivery in flight finishes.
      this.pending.push(new Promise<void>((started) => this.waitingTurn.push(() => started(start()))));
    } else {
      this.pending.push(start());
    }
  }

  /** A delivery finished: the oldest one waiting its turn starts. */
  private finishedTurn(): void {
    this.inFlight -= 1;
    this.waitingTurn.shift()?.();
  }

  /**
   * At the policy's bound of deliveries in flight, a new one waits its turn: past Temporal's
   * pending-activity limit every workflow task of the run fails, for ever. Asked of the patch only
   * then, so a run that never gets there records nothing (and older histories replay unchanged).
   */
  private mustWaitTurn(): boolean {
    const bound = this.routing?.maxDeliveriesInFlight ?? DEFAULT_MAX_DELIVERIES_IN_FLIGHT;
    if (this.inFlight < bound) return false;
    this.bounded ??= isPatched(PATCHES.deliveriesBoundedInFlight);
    return this.bounded;
  }

  private failed(
    entry: NoticeRecord,
    notice: NoticeDelivery['notice'],
    delivery: ChannelDelivery,
    error: string,
  ): void {
    delivery.state = 'failed';
    delivery.error = error;
    this.record.event('notice_failed', `"${entry.subject}" not delivered on ${delivery.channel}: ${error}`);
    const fallback = this.routing?.fallback;
    if (fallback && !entry.deliveries.some((d) => d.channel === fallback)) {
      this.deliver(entry, notice, fallback, true);
    }
    this.summarise(entry);
    // Failed with nothing left in flight (the fallback, if any, was tried): final.
    if (entry.state === 'failed' && !this.dispatching) this.countUndelivered(notice);
  }

  /**
   * Called where a notice becomes `failed`, which is final (nothing of it is in flight), so once per
   * notice: the run carries on, so without this nobody learns that nobody was told.
   */
  private countUndelivered(notice: NoticeDelivery['notice']): void {
    recordNoticeUndelivered(this.record.status.runbook, notice.audience);
  }

  private summarise(entry: NoticeRecord): void {
    const states = entry.deliveries.map((d) => d.state);
    if (states.includes('sending')) entry.state = 'sending';
    else if (states.every((s) => s === 'delivered')) entry.state = 'delivered';
    else if (states.includes('delivered')) entry.state = 'partial';
    else entry.state = 'failed';
  }
}

export function describeFailure(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as Error & { cause?: unknown }).cause;
    return cause instanceof Error ? `${error.message}: ${cause.message}` : error.message;
  }
  return String(error);
}
