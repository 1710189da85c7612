/**
 * Headers a stage carries from the event it consumes to the events it publishes while handling it
 * (e.g. an attestation of work already done on the event's text, so the next stage need not redo
 * it). The bus knows nothing of their content: the stage's composition plugs a carrier in
 * (EventBusOptions.headerCarrier), so libs/bus imports no domain library.
 */
export interface HeaderCarrier {
  /**
   * Runs `handle`, the handling of one consumed message (its outputs published included), in a
   * scope that knows the message's `headers`. Must not throw for odd headers: ignore them.
   */
  consume<T>(headers: Readonly<Record<string, string>>, handle: () => Promise<T>): Promise<T>;
  /**
   * Headers to add to the records published now (inside a `consume` scope), or undefined. They
   * never replace the bus's own `ce_*` headers.
   */
  publishHeaders(): Readonly<Record<string, string>> | undefined;
}
