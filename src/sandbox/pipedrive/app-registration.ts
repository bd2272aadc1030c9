/** The one Marketplace app the simulator knows, as configured in Developer Hub. Mutable through /_sim/app. */
export interface AppRegistration {
  clientId: string;
  clientSecret: string;
  /** The OAuth callback; authorize requires redirect_uri to equal it, and uninstall DELETEs go here. */
  callbackUrl?: string;
  scopes: string[];
  /** Skip the approval page and approve as the default user (first admin of the demo company). */
  autoApprove: boolean;
}
