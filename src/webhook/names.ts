/** The admission webhook's fixed names, apart so that CLI help reads them without loading the webhook. */

/** The MutatingWebhookConfiguration `stepwise install` creates and `stepwise controller` keeps trusted. */
export const WEBHOOK_CONFIGURATION = 'stepwise-admission';
/** The Service in front of an in-cluster controller's webhook. */
export const WEBHOOK_SERVICE = 'stepwise-controller';
export const DEFAULT_WEBHOOK_PORT = 9443;
/** The path the webhook configuration points at. */
export const ADMIT_PATH = '/admit';
