# One image definition for both processes: APP=Payments.Host or APP=Payments.Vault. No secret is baked in: each
# service gets only its own through its environment (docker-compose.yml, SECURITY.md); the Vault's image also runs
# the one-shot `migrate` step (command: ["migrate"]).
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet build Payments.Modular.sln -c Release -nologo

FROM mcr.microsoft.com/dotnet/aspnet:10.0
ARG APP
ENV APP=${APP}
WORKDIR /app
COPY --from=build /src/artifacts/bin/${APP}/release/ /app/
USER app
ENTRYPOINT ["sh", "-c", "exec dotnet /app/${APP}.dll \"$@\"", "--"]
