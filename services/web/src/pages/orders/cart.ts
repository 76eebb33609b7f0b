import { useCallback, useEffect, useState } from "react";
import type { Product } from "./orders.api.ts";

/** A line of the cart: the product as the catalog showed it, and the quantity as typed. */
export interface CartLine {
  sku: string;
  name: string;
  price_cents: number;
  currency: string;
  /** Text, as the field holds it (it may be empty or wrong while being edited). */
  quantity: string;
}

export const MAX_QUANTITY = 1000;

const storageKey = (userId: string) => `taskflow.cart.${userId}`;

function isCartLine(value: unknown): value is CartLine {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.sku === "string" &&
    typeof v.name === "string" &&
    typeof v.price_cents === "number" &&
    typeof v.currency === "string" &&
    typeof v.quantity === "string"
  );
}

/** The cart kept for this user in this tab (sessionStorage: a reload keeps it, a new tab does not). */
export function readCart(userId: string): CartLine[] {
  try {
    const raw = globalThis.sessionStorage?.getItem(storageKey(userId));
    const parsed: unknown = raw ? JSON.parse(raw) : [];
    return Array.isArray(parsed) ? parsed.filter(isCartLine) : [];
  } catch {
    return [];
  }
}

function writeCart(userId: string, lines: readonly CartLine[]) {
  try {
    if (lines.length) globalThis.sessionStorage?.setItem(storageKey(userId), JSON.stringify(lines));
    else globalThis.sessionStorage?.removeItem(storageKey(userId));
  } catch {
    // Storage refused (private mode, quota): the cart lives as long as the page.
  }
}

/** The quantity as a number, or undefined unless it is a whole number from 1 to 1000. */
export function parseQuantity(text: string): number | undefined {
  if (!/^\s*\d+\s*$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 && n <= MAX_QUANTITY ? n : undefined;
}

/** A line's price (unit price × quantity), when the quantity is valid. */
export function lineTotal(line: CartLine): number | undefined {
  const quantity = parseQuantity(line.quantity);
  return quantity === undefined ? undefined : line.price_cents * quantity;
}

/** The cart's total by currency (the validator refuses mixed currencies, and says where). */
export function cartTotals(lines: readonly CartLine[]): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const line of lines) {
    const total = lineTotal(line);
    if (total !== undefined) totals[line.currency] = (totals[line.currency] ?? 0) + total;
  }
  return totals;
}

/**
 * The signed-in user's cart, saved to sessionStorage on every change. Read once: the component
 * using it is keyed by the user's id.
 */
export function useCart(userId: string) {
  const [lines, setLines] = useState<CartLine[]>(() => readCart(userId));

  useEffect(() => {
    writeCart(userId, lines);
  }, [userId, lines]);

  /** One more of `product` (a new line, or one more on its line). */
  const add = useCallback((product: Product) => {
    setLines((current) => {
      const existing = current.find((line) => line.sku === product.sku);
      if (!existing) {
        return [
          ...current,
          {
            sku: product.sku,
            name: product.name,
            price_cents: product.price_cents,
            currency: product.currency,
            quantity: "1",
          },
        ];
      }
      const next = String(Math.min(MAX_QUANTITY, (parseQuantity(existing.quantity) ?? 0) + 1));
      return current.map((line) => (line.sku === product.sku ? { ...line, quantity: next } : line));
    });
  }, []);

  const setQuantity = useCallback((sku: string, quantity: string) => {
    setLines((current) => current.map((line) => (line.sku === sku ? { ...line, quantity } : line)));
  }, []);

  const remove = useCallback((sku: string) => {
    setLines((current) => current.filter((line) => line.sku !== sku));
  }, []);

  const clear = useCallback(() => setLines([]), []);

  return { lines, add, setQuantity, remove, clear };
}
