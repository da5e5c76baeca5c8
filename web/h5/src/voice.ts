// Voice broadcast: reads text aloud with the browser's speech synthesis in zh-CN (the page also shows the text, for screen readers and devices without a voice).
export function speechAvailable(): boolean {
  return typeof window !== 'undefined' && 'speechSynthesis' in window && typeof SpeechSynthesisUtterance !== 'undefined';
}

/** Speaks `text` in Mandarin, slower in elderly mode; false when this browser cannot speak. */
export function speak(text: string, opts: { slow?: boolean } = {}): boolean {
  if (!speechAvailable()) return false;
  const u = new SpeechSynthesisUtterance(text);
  u.lang = 'zh-CN';
  u.rate = opts.slow ? 0.8 : 1;
  const voice = window.speechSynthesis.getVoices().find((v) => v.lang.replace('_', '-').toLowerCase().startsWith('zh-cn'));
  if (voice) u.voice = voice;
  window.speechSynthesis.cancel();
  window.speechSynthesis.speak(u);
  return true;
}

export function stopSpeaking(): void {
  if (speechAvailable()) window.speechSynthesis.cancel();
}
