/** A password typed at the terminal, not echoed: raw mode, our own line editing (backspace, Ctrl-C, Ctrl-D). */

export interface RawInput extends NodeJS.ReadableStream {
  isTTY?: boolean
  setRawMode?: (mode: boolean) => unknown
}

export class PromptAbortedError extends Error {
  override name = 'PromptAbortedError'
}

/** Writes `question`, reads one line from the terminal without showing it, and ends the line. */
export async function promptHidden (question: string, input: RawInput, output: { write: (text: string) => unknown }): Promise<string> {
  // Echo off before the question shows: someone (or a script) answering as soon as it appears must not see
  // the password echoed by the terminal.
  input.setRawMode?.(true)
  output.write(question)
  input.resume()
  input.setEncoding('utf8')
  try {
    return await new Promise<string>((resolve, reject) => {
      let typed = ''
      const onData = (chunk: string): void => {
        for (const char of chunk) {
          if (char === '\r' || char === '\n') {
            finish()
            resolve(typed)
            return
          }
          if (char === '\u0003' || char === '\u0004') {
            finish()
            reject(new PromptAbortedError('cancelled; nothing changed'))
            return
          }
          // Backspace (DEL or ^H) takes back one character.
          if (char === '\u007f' || char === '\b') typed = [...typed].slice(0, -1).join('')
          else typed += char
        }
      }
      const onEnd = (): void => {
        finish()
        reject(new PromptAbortedError('no password given; nothing changed'))
      }
      const finish = (): void => {
        input.removeListener('data', onData)
        input.removeListener('end', onEnd)
      }
      input.on('data', onData)
      input.once('end', onEnd)
    })
  } finally {
    input.setRawMode?.(false)
    input.pause()
    output.write('\n')
  }
}
