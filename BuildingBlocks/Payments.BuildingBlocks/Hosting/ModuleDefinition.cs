using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Payments.BuildingBlocks.Data;

namespace Payments.BuildingBlocks.Hosting;

/// <summary>
/// How a module plugs into the Host: its name, its schema, the assembly holding its endpoints, handlers and
/// migrations, and the registration of its own services. The Host lists these and nothing else of a module.
/// </summary>
public sealed record ModuleDefinition(
    string Name,
    string Schema,
    Assembly Assembly,
    Action<IServiceCollection, IConfiguration> AddServices)
{
    public ModuleMigrations Migrations => new(Schema, Assembly);
}
