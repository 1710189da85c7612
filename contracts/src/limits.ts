/**
 * Length limits the payload contracts share, in UTF-16 code units for strings (class-validator's
 * MaxLength, JSON Schema maxLength) and entries for lists. A limit written once here keeps the
 * classes, the generated schemas and the code that cuts text to fit (dead-letter records,
 * RequestFailed) in step.
 */

/** Ids, names and labels: request, document and chunk ids, group names, model ids. */
export const NAME_MAX_LENGTH = 200;
/** Short names: a provider, a version label. */
export const SHORT_NAME_MAX_LENGTH = 100;
/** Entries of a list in a payload: passages, groups, details, citations. */
export const LIST_MAX_ITEMS = 100;
/** One line of a list of problems or sentences: a RequestFailed detail, a dead-letter error. */
export const LINE_MAX_LENGTH = 1000;
/** A failure message or a reason: RequestFailed.message, DeadLettered.reason, a review reason. */
export const MESSAGE_MAX_LENGTH = 2000;
/** The requester's reference echoed on results (`replyTo`). */
export const REPLY_TO_MAX_LENGTH = 500;
/** A document title. */
export const TITLE_MAX_LENGTH = 500;
/** A document's source URI. */
export const URI_MAX_LENGTH = 2000;
/** A retrieval query. */
export const QUERY_MAX_LENGTH = 8000;
/** A reviewer's comment or an instruction added to a prompt. */
export const NOTE_MAX_LENGTH = 4000;
/** The text of one retrieved passage. */
export const PASSAGE_TEXT_MAX_LENGTH = 20_000;
/** A rendered prompt or a model's output text. */
export const MODEL_TEXT_MAX_LENGTH = 200_000;
