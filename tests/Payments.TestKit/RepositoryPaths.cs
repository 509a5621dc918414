namespace Payments.TestKit;

public static class RepositoryPaths
{
    /// <summary>The folder holding Payments.Modular.sln, found upward from the test binaries.</summary>
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Payments.Modular.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("Payments.Modular.sln not found above " + AppContext.BaseDirectory);
    }
}
