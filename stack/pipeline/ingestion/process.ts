/**
 * From a parsed feed to the records to produce: normalise every entry, count the invalid ones
 * by reason, and drop duplicates (same normalised domain) keeping the first occurrence and the
 * earliest first-seen date. Pure.
 */
import type { ParsedFeed } from './feeds';
import { normalizeDomain, type InvalidReason } from './normalize';

export interface DomainRecord {
  domain: string;
  /** From the feed when it has a date; undefined otherwise (the producer uses the ingest time). */
  firstSeen?: number;
}

export interface FeedCounts {
  /** Entries read from the feed, including malformed lines. fetched = valid + invalid. */
  fetched: number;
  /** Entries that normalised to a valid host name (duplicates included). */
  valid: number;
  /** Malformed lines plus entries that are not valid host names. */
  invalid: number;
  /** Valid entries whose normalised domain appeared earlier in the same feed. */
  duplicates: number;
}

export interface ProcessedFeed {
  records: DomainRecord[];
  counts: FeedCounts;
  invalidByReason: Partial<Record<InvalidReason | 'malformed_line', number>>;
  /** A few examples of rejected input, for the logs. */
  invalidSamples: { line: number; input: string; reason: string }[];
}

const MAX_SAMPLES = 5;

export function processFeed(parsed: ParsedFeed): ProcessedFeed {
  const byDomain = new Map<string, DomainRecord>();
  const invalidByReason: ProcessedFeed['invalidByReason'] = {};
  const invalidSamples: ProcessedFeed['invalidSamples'] = [];
  let valid = 0;
  let invalid = parsed.malformed.length;
  let duplicates = 0;
  if (parsed.malformed.length > 0) invalidByReason.malformed_line = parsed.malformed.length;
  for (const m of parsed.malformed.slice(0, MAX_SAMPLES)) invalidSamples.push({ line: m.line, input: m.text, reason: m.reason });

  for (const entry of parsed.entries) {
    const r = normalizeDomain(entry.value);
    if (!r.ok) {
      invalid++;
      invalidByReason[r.reason] = (invalidByReason[r.reason] ?? 0) + 1;
      if (invalidSamples.length < MAX_SAMPLES) invalidSamples.push({ line: entry.line, input: entry.value, reason: r.reason });
      continue;
    }
    valid++;
    const seen = byDomain.get(r.domain);
    if (seen !== undefined) {
      duplicates++;
      if (entry.firstSeen !== undefined && (seen.firstSeen === undefined || entry.firstSeen < seen.firstSeen)) {
        seen.firstSeen = entry.firstSeen;
      }
      continue;
    }
    const rec: DomainRecord = { domain: r.domain };
    if (entry.firstSeen !== undefined) rec.firstSeen = entry.firstSeen;
    byDomain.set(r.domain, rec);
  }
  return {
    records: [...byDomain.values()],
    counts: { fetched: parsed.entries.length + parsed.malformed.length, valid, invalid, duplicates },
    invalidByReason,
    invalidSamples,
  };
}
