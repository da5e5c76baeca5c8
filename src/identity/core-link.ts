// Every core-banking call identity makes, in one place: the built-in core's functions today; an external core needs each of them on the CoreBanking port.
//
// The port (src/core/port.ts) has verifyElements and cardStatus; identity also needs: the loss
// report and reactivation (status changes, activity), the payment password (has / set / verify /
// verify last 4) and the reserved phone (OTP to it, phone-change detection). Until the port
// carries them, identity works with the built-in core only; moving over is a change of this file.
export {
  getCard,
  revealReservedPhone,
  setCardStatus,
  recordCardActivity,
  setPaymentPassword,
  verifyPaymentPassword,
  verifyPaymentPasswordLast4,
  verifyCardElements,
  assertPaymentPassword,
  type CoreCard,
  type CardStatus,
} from '../core/index.ts';
