import { FastifyRequest } from "fastify";
import { customerMismatch, invalidToken, malformedAuthorization, missingCustomerHeader, missingToken } from "../errors";
import { TokenIssuer } from "./tokens";

/** Who is calling; set on every authenticated request. */
export interface AuthContext {
  customerId: string;
  clientId: string;
}

declare module "fastify" {
  interface FastifyRequest {
    auth: AuthContext | null;
  }
  interface FastifyContextConfig {
    /** Routes that answer without a token (health and service info). */
    public?: boolean;
  }
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

    request.auth = { customerId: grant.customerId, clientId: grant.clientId };
  };
}
