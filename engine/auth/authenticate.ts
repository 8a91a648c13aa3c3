import { FastifyRequest } from "fastify";
import { connectorOnly, customerMismatch, invalidToken, notForConnectors, malformedAuthorization, missingCustomerHeader, missingToken } from "../errors";
import { TokenIssuer } from "./tokens";

/** Who is calling; set on every authenticated request. */
export interface AuthContext {
  customerId: string;
  clientId: string;
  /** Set when the caller is a connector; such callers reach only routes marked `connector`. */
  connectorId?: string;
}

declare module "fastify" {
  interface FastifyRequest {
    auth: AuthContext | null;
  }
  interface FastifyContextConfig {
    /** Routes that answer without a token (health and service info). */
    public?: boolean;
    /** Routes only connectors may call (claiming work hands out credential secrets). */
    connector?: boolean;
  }
}

/** The caller's customer; only for routes behind authenticate(), which sets request.auth. */
export function customer(request: FastifyRequest): string {
  return (request.auth as AuthContext).customerId;
}

// "CwsAuth Bearer=<token>"; Citrix docs vary the case ("CWSAuth bearer="), so match case-insensitively.
const CWS_AUTH = /^\s*cwsauth\s+bearer\s*=\s*([^\s,]+)\s*$/i;

/** onRequest hook: 401 without a live token, 403 when Citrix-CustomerId is not the token's customer. */
export function authenticate(tokens: TokenIssuer) {
  return async (request: FastifyRequest): Promise<void> => {
    if (request.routeOptions.config?.public) return;
    const header = request.headers.authorization;
    if (header === undefined || header.trim() === "") throw missingToken();
    const match = CWS_AUTH.exec(header);
    if (!match) throw malformedAuthorization();
    const grant = tokens.verify(match[1]!);
    if (!grant) throw invalidToken();

    const customer = request.headers["citrix-customerid"];
    if (typeof customer !== "string" || customer.trim() === "") throw missingCustomerHeader();
    if (customer.trim() !== grant.customerId) throw customerMismatch(customer.trim());

    const connectorRoute = request.routeOptions.config?.connector === true;
    if (connectorRoute && grant.role !== "connector") throw connectorOnly();
    if (!connectorRoute && grant.role === "connector") throw notForConnectors();
    request.auth = { customerId: grant.customerId, clientId: grant.clientId, connectorId: grant.connectorId };
  };
}
