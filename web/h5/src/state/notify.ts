// Short confirmations ("已保存"): shown in a polite live region for a moment. Vant's toast is a nameless dialog to screen readers; this is a status.
import { reactive } from 'vue';

/** How long a confirmation stays on screen. */
const NOTICE_MS = 2_500;
export const notice = reactive({ text: '', seq: 0 });
let timer: ReturnType<typeof setTimeout> | undefined;

export function notify(text: string): void {
  notice.text = text;
  notice.seq++;
  if (timer) clearTimeout(timer);
  timer = setTimeout(() => (notice.text = ''), NOTICE_MS);
}
