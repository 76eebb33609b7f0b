const formats = new Map<string, { format: Intl.NumberFormat; digits: number } | null>();

function formatFor(currency: string) {
  let entry = formats.get(currency);
  if (entry === undefined) {
    try {
      const format = new Intl.NumberFormat(undefined, { style: "currency", currency });
      entry = { format, digits: format.resolvedOptions().maximumFractionDigits ?? 2 };
    } catch {
      // Not an ISO 4217 code this browser knows.
      entry = null;
    }
    formats.set(currency, entry);
  }
  return entry;
}

/**
 * An amount the API gives in integer minor units (cents) as money in the reader's locale:
 * `formatMoney(8999, "EUR")` → "€89.99" (en), "89,99 €" (fr). A currency without minor units
 * (JPY) is not divided.
 */
export function formatMoney(cents: number, currency: string): string {
  const entry = formatFor(currency);
  if (!entry) return `${(cents / 100).toFixed(2)} ${currency}`;
  return entry.format.format(cents / 10 ** entry.digits);
}

/** Amounts by currency (`{ EUR: 15980, USD: 1000 }`) as one text: "€159.80 + $10.00". */
export function formatMoneyByCurrency(amounts: Readonly<Record<string, number>>): string {
  const parts = Object.entries(amounts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([currency, cents]) => formatMoney(cents, currency));
  return parts.length ? parts.join(" + ") : "0";
}
