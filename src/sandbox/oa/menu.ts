// The demo Official Account menu the simulated phone shows, in WeChat's custom-menu JSON (at most 3 buttons, 5 sub-buttons each).
import { HELP_MENU_KEY } from '../../wechat/oa/index.ts';

export interface OaMenuButton {
  type?: 'click' | 'view';
  name: string;
  /** CLICK buttons: the EventKey pushed to the server (≤ 128 bytes). */
  key?: string;
  /** VIEW buttons: the page opened. */
  url?: string;
  sub_button?: OaMenuButton[];
}

export interface OaMenu {
  button: OaMenuButton[];
}

/** Menu keys the demo menu pushes; issue 5's commands answer BALANCE and STATEMENT. */
export const DEMO_MENU_KEYS = { balance: 'BALANCE', statement: 'STATEMENT', help: HELP_MENU_KEY, contact: 'CONTACT' } as const;

/** One menu for every demo tenant: 余额, 明细, and 更多 (我的卡 and 充值: the H5 pages, 帮助, 联系客服). VIEW urls are paths: the phone opens them in its web view with the tenant named. */
export const DEMO_OA_MENU: OaMenu = {
  button: [
    { type: 'click', name: '余额', key: DEMO_MENU_KEYS.balance },
    { type: 'click', name: '明细', key: DEMO_MENU_KEYS.statement },
    {
      name: '更多',
      sub_button: [
        { type: 'view', name: '我的卡', url: '/h5/' },
        { type: 'view', name: '充值', url: '/h5/topup' },
        { type: 'click', name: '帮助', key: DEMO_MENU_KEYS.help },
        { type: 'click', name: '联系客服', key: DEMO_MENU_KEYS.contact },
      ],
    },
  ],
};
