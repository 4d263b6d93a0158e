import type { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { missingRunbookSearchAttributes } from '../common/search-attributes';

/**
 * Registers the runbooks' custom search attributes (all Keyword) in a namespace, skipping the
 * ones that already exist. The dev server gets them from its start flags; this covers the test
 * server and any existing cluster (self-hosted). Temporal Cloud namespaces are configured in Cloud.
 */
export async function ensureRunbookSearchAttributes(
  connection: Connection,
  namespace: string,
): Promise<string[]> {
  const existing = await connection.operatorService
    .listSearchAttributes({ namespace })
    .then((response) => response.customAttributes ?? {})
    .catch(() => ({}));
  const missing = missingRunbookSearchAttributes(existing);
  if (missing.length === 0) return [];
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(
      missing.map((name) => [name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD]),
    ),
  });
  return missing;
}
