import type { Logger } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { ConfigurationError } from '../common/errors';
import { missingRunbookSearchAttributes, RUNBOOK_SEARCH_ATTRIBUTES } from '../common/search-attributes';

const { IndexedValueType } = temporal.api.enums.v1;

/** The part of Temporal's operator service the check reads. */
export interface SearchAttributeLister {
  listSearchAttributes(request: {
    namespace: string;
  }): Promise<temporal.api.operatorservice.v1.IListSearchAttributesResponse>;
}

const createCommand = (namespace: string, name: string): string =>
  `temporal operator search-attribute create --namespace ${namespace} --name ${name} --type Keyword`;

/**
 * The namespace's custom search attributes, checked before the worker serves anything. Every
 * runbook sets them in its first workflow task, and the server refuses a task that sets one the
 * namespace lacks: a worker started there as usual, and every run stalled at its start, its first
 * workflow task failing again and again (BadSearchAttributes), told only by the SDK core's warning
 * at each retry amid the run's own step lines. A missing attribute stops the worker, naming each and the command
 * that creates it; one of another type than Keyword is a warning (its values are kept, but the
 * gauges' and `list`'s filters on it match differently). A credential that may not read them gets
 * a warning and the worker serves: the server is the judge then.
 */
export async function checkRunbookSearchAttributes(
  operator: SearchAttributeLister,
  namespace: string,
  logger: Logger,
): Promise<void> {
  const needed = RUNBOOK_SEARCH_ATTRIBUTES.map((key) => key.name);
  let custom: Record<string, temporal.api.enums.v1.IndexedValueType>;
  try {
    custom = (await operator.listSearchAttributes({ namespace })).customAttributes ?? {};
  } catch (error) {
    logger.warn(
      "could not read the namespace's search attributes; if the runbooks' are missing, every run stalls at its start",
      { namespace, needed, error: (error as Error).message },
    );
    return;
  }
  const missing = missingRunbookSearchAttributes(custom);
  if (missing.length)
    throw new ConfigurationError(
      [
        `namespace ${namespace} lacks the runbooks' search attributes ${missing.join(', ')}: every runbook sets them in its first workflow task, which the server refuses without them, so its runs would stall at their start.`,
        `  Self-hosted: ${missing.map((name) => createCommand(namespace, name)).join(' && ')}`,
        '  Temporal Cloud: add them to the namespace as Keyword search attributes (Cloud UI or tcld).',
      ].join('\n'),
    );
  for (const name of needed) {
    const type = custom[name]!;
    if (type !== IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD)
      logger.warn(
        `search attribute ${name} is ${IndexedValueType[type] ?? type}, not Keyword: the open-run gauges and \`list\` filter on it as Keyword`,
        { namespace, searchAttribute: name },
      );
  }
}
