// WeCom's own error answers for the sandbox platform: HTTP 200 with {errcode, errmsg}, codes from WeCom's global table.
/** The codes the sandbox's customer-contact endpoints answer with (企业微信全局错误码). */
export const WECOM_ERRORS = {
  40014: 'invalid access_token',
  40058: 'invalid parameter',
  41001: 'access_token missing',
  41009: 'missing userid',
  41035: 'missing external userid',
  41037: 'missing contact way type',
  41038: 'missing contact way scene',
  41039: 'invalid contact way type',
  41040: 'invalid contact way scene',
  41041: 'contact way user count exceeds the limit',
  41043: 'missing contact way config_id',
  41044: 'invalid contact way config_id',
  41045: 'API-created contact ways reached the limit',
  41049: 'missing welcome code',
  41050: 'invalid welcome code',
  41051: 'externaluser has started chatting',
  42001: 'access_token expired',
  44004: 'text content is empty',
  45002: 'content size out of limit',
  60111: 'userid not found',
  84061: 'not external contact',
} as const;

export type WecomErrcode = keyof typeof WECOM_ERRORS;

/** Thrown by a sandbox endpoint; the route answers it as WeCom would. */
export class WecomFailure extends Error {
  constructor(
    readonly errcode: WecomErrcode,
    hint?: string,
  ) {
    super(hint ? `${WECOM_ERRORS[errcode]}, hint: [${hint}]` : WECOM_ERRORS[errcode]);
    this.name = 'WecomFailure';
  }
}
