using Payments.Perf;

// The load suite. ./perf/run.sh builds the solution in Release and runs this; see perf/README.md.
PerfOptions options;
try
{
    options = PerfOptions.Parse(args);
}
catch (ArgumentException e)
{
    await Console.Error.WriteLineAsync(e.Message);
    return 2;
}
var result = await PerfSuite.RunAsync(options, Console.Out);
// Figures are for people to read; the exit code only says whether the run worked and the money is right.
return result.Invariants is { Holds: true } ? 0 : 1;
