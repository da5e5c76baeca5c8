// WeChat Pay v3's own error answers for the sandbox platform: an HTTP status and {code, message, detail?} (WECHAT-VECTORS.md §4.12).

/** Thrown by a sandbox Pay endpoint; the route answers it as the platform would (signed, like any answer). */
export class PayFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly detail?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'PayFailure';
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...(this.detail ? { detail: this.detail } : {}) };
  }
}

export const paramError = (field: string, reason: string) =>
  new PayFailure(400, 'PARAM_ERROR', `参数错误：${field} ${reason}`, { field, location: 'body' });

export const systemError = () => new PayFailure(500, 'SYSTEM_ERROR', '系统繁忙，请稍后重试');

/** Status → code of the API-failure fault switch. */
export const FAULT_CODES: Record<number, { code: string; message: string }> = {
  429: { code: 'FREQUENCY_LIMITED', message: '频率超限' },
  500: { code: 'SYSTEM_ERROR', message: '系统繁忙，请稍后重试' },
  502: { code: 'SERVICE_UNAVAILABLE', message: '服务不可用' },
  503: { code: 'SERVICE_UNAVAILABLE', message: '服务不可用' },
};
