import * as z from 'zod/mini';

/**
 * Input requests: what an agent asks the session's clients mid-turn (an
 * approval, a choice, a line of text), and the answer that settles it.
 * The first answer wins; the events `turn.input_requested` and
 * `turn.input_answered` carry these shapes.
 */

/** One answer a client may pick, e.g. `{ id: 'approve', label: 'Approve' }`. */
export const InputOption = z.object({
  id: z.string().check(z.minLength(1), z.maxLength(128)),
  label: z.string(),
  description: z.optional(z.string()),
});

/**
 * What the agent asks. `kind` says how to present it (`'approval'`,
 * `'choice'`, `'text'`, or a bridge's own kind); `options`, when given, are
 * the only accepted `answer.option` values; `details` carries what the
 * question is about (a command line, a file path, …).
 */
export const InputRequest = z.object({
  kind: z.string().check(z.minLength(1), z.maxLength(128)),
  prompt: z.string(),
  options: z.optional(z.array(InputOption)),
  details: z.optional(z.record(z.string(), z.unknown())),
});

/**
 * An answer: the chosen `option` (one of the request's option ids), free
 * `text`, or structured `data` — at least one of them.
 */
export const InputAnswer = z
  .object({
    option: z.optional(z.string()),
    text: z.optional(z.string()),
    data: z.optional(z.record(z.string(), z.unknown())),
  })
  .check(
    z.refine((answer) => answer.option !== undefined || answer.text !== undefined || answer.data !== undefined, {
      message: 'An answer needs `option`, `text` or `data`',
    }),
  );

/** Who settled an input request: a client's call, or the server's input policy. */
export const InputSource = z.enum(['client', 'policy']);

export type InputOption = z.infer<typeof InputOption>;
export type InputRequest = z.infer<typeof InputRequest>;
export type InputAnswer = z.infer<typeof InputAnswer>;
export type InputSource = z.infer<typeof InputSource>;
