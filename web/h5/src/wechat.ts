// WeChat's in-app JS bridge: present when the page runs inside WeChat (WeixinJSBridge), used for payment.

interface WeixinJSBridge {
  invoke(api: 'getBrandWCPayRequest', params: Record<string, string>, cb: (res: { err_msg: string }) => void): void;
}

/** WeChat's in-app bridge, when the page runs inside WeChat. */
export function weixinBridge(): WeixinJSBridge | undefined {
  return (window as unknown as { WeixinJSBridge?: WeixinJSBridge }).WeixinJSBridge;
}
