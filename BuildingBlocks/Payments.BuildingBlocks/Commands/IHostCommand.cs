namespace Payments.BuildingBlocks.Commands;

/// <summary>
/// An operator verb of the Host (<c>./run.sh merchant create --name X</c>). The Host runs it instead of the
/// web server when the first argument equals <see cref="Verb"/>. Output for the operator goes to stdout,
/// logs to stderr.
/// </summary>
public interface IHostCommand
{
    string Verb { get; }
    Task<int> RunAsync(IReadOnlyList<string> args, TextWriter stdout, CancellationToken ct);
}
